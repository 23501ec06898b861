"""What an analyst's statement may hold: the allow-lists vectrain.analyst.check walks the
engine's parse tree against (statement kinds, tables, table functions, functions, and the keys
each AST node type may carry). A name or key not listed here is refused: these say what is
allowed, not what is not."""

from __future__ import annotations

READ_ONLY = (
    "SQL here is read-only (SELECT, WITH ... SELECT, SHOW TABLES/COLUMNS/DATABASES, SHOW CREATE "
    "TABLE, DESCRIBE and EXPLAIN over this database's tables)"
)

# Table functions that only generate data. Every other one reads files, URLs, object stores,
# other servers or other tables (file, url, s3, remote, mysql, executable, merge, view, ...).
# (zeros() is refused by the engine itself under readonly=1; system.zeros works.)
ALLOWED_TABLE_FUNCTIONS = frozenset(
    {
        "numbers",
        "numbers_mt",
        "generateSeries",
        "generate_series",
        "generateRandom",
        "values",
    }
)
# System tables that only generate data; the rest describe the server, its users and queries.
ALLOWED_SYSTEM_TABLES = frozenset({"one", "numbers", "numbers_mt", "zeros", "zeros_mt"})

# Every table function of ClickHouse 26.9 (chDB 4.4), lower-cased. A function call with one of
# these names is refused wherever it appears (e.g. `x IN url(...)`), unless allowed above;
# tests/test_security_sql.py checks this list against the engine's system.table_functions.
TABLE_FUNCTIONS = frozenset(
    name.lower()
    for name in """
    SQLStandardValues arrowstream azureBlobStorage azureBlobStorageCluster bigquery cluster
    clusterAllReplicas cosn deltaLake deltaLakeAzure deltaLakeAzureCluster deltaLakeCluster deltaLakeLocal
    deltaLakeS3 deltaLakeS3Cluster dictionary eval executable file fileCluster filesystem format fuzzJSON
    fuzzQuery gcs generateRandom generateSeries generate_series hdfs hdfsCluster hudi hudiCluster iceberg
    icebergAzure icebergAzureCluster icebergCluster icebergHDFS icebergHDFSCluster icebergLocal
    icebergLocalCluster icebergS3 icebergS3Cluster input jdbc loop merge mergeTreeAnalyzeIndexes
    mergeTreeAnalyzeIndexesUUID mergeTreeCodecBlockCounts mergeTreeIndex mergeTreeProjection mergeTreeTextIndex
    mongodb mysql null numbers numbers_mt odbc oss paimon paimonAzure paimonAzureCluster paimonCluster
    paimonHDFS paimonHDFSCluster paimonLocal paimonS3 paimonS3Cluster postgresql primes prometheusQuery
    prometheusQueryRange python redis remote remoteSecure s3 s3Cluster sqlite timeSeriesData
    timeSeriesMetricFamilies timeSeriesMetrics timeSeriesSamples timeSeriesSelector timeSeriesTags url
    urlCluster values view viewExplain viewIfPermitted ytsaurus zeros zeros_mt
""".split()
)
# Also regular functions; allowed where a regular function is meant (format('{} {}', a, b)).
REGULAR_FUNCTIONS_NAMED_LIKE_TABLE_FUNCTIONS = frozenset({"format"})

# Regular functions (lower-cased, aliases included) that read files, reach the network or other
# tables by name, write to logs or Keeper, or reveal the server's configuration, paths, hosts,
# ports, certificates, version, uptime, accounts or other queries (an analyst's statement needs
# none of these; what the server is and who runs it stays the operator's to tell).
DENIED_FUNCTIONS = frozenset(
    name.lower()
    for name in """
    file catboostEvaluate modelEvaluate naiveBayesClassifier naiveBayesClassifierWithProb
    naiveBayesClassifierWithAllProbs joinGet joinGetOrNull hasColumnInTable
    aiClassify aiEmbed aiExtract aiFilter aiGenerate aiRedact aiSimilarity aiTranslate
    getSetting getSettingOrDefault getServerSetting getMergeTreeSetting getMacro getServerPort tcpPort
    getClientHTTPHeader currentRequestURL currentHandler hostName hostname FQDN fullHostName displayName
    serverUUID buildId getOSKernelVersion showCertificate zookeeperSessionUptime
    currentProfiles enabledProfiles defaultProfiles currentRoles enabledRoles defaultRoles
    addressToLine addressToLineWithInlines addressToSymbol demangle trap logTrace generateSerialID
    version revision uptime currentUser user current_user session_user authenticatedUser authUser
    pgGetUserById pg_get_userbyid connectionId connection_id queryID query_id currentQueryID current_query_id
    initialQueryID initial_query_id initialQueryStartTime shardNum shardCount hasThreadFuzzer
""".split()
)
# Whole families: dictionaries (external sources), the geobase (server files), filesystem
# sizes of the server's disks, and engine-internal functions.
DENIED_FUNCTION_PREFIXES = ("dict", "region", "filesystem", "__")

IN_FUNCTIONS = frozenset(
    name.lower()
    for name in """
    in notIn globalIn globalNotIn nullIn notNullIn globalNullIn globalNotNullIn inIgnoreSet notInIgnoreSet
    globalInIgnoreSet globalNotInIgnoreSet nullInIgnoreSet notNullInIgnoreSet globalNullInIgnoreSet
    globalNotNullInIgnoreSet
""".split()
)

EXPLAIN_KINDS = frozenset(
    {"EXPLAIN", "EXPLAIN AST", "EXPLAIN SYNTAX", "EXPLAIN QUERY TREE", "EXPLAIN PIPELINE", "EXPLAIN ESTIMATE"}
)
# EXPLAIN's own options (the engine refuses any other name after EXPLAIN).
EXPLAIN_OPTIONS = frozenset(
    """
    actions column_structure compact compact_repeated_processor_chains description distributed dump_ast
    dump_passes dump_tree estimates graph header indexes indices input_headers json keep_logical_steps
    oneline optimize passes pretty projections query_tree_passes run_passes run_query_tree_passes
    single_record sorting
""".split()
)

_OUTPUT = {"is_outfile_append", "is_outfile_truncate", "is_into_outfile_with_stdout"}
_MATCHER = {"transformers"}
# The AST node types a checked statement may hold, with the keys each may carry. A type or key
# not listed here is refused: this is what is allowed, not a list of what is not.
NODE_KEYS: dict[str, frozenset[str]] = {
    t: frozenset(k)
    for t, k in {
        "SelectWithUnionQuery": {"union_mode", "list_of_modes", "list_of_selects"} | _OUTPUT,
        "SelectIntersectExceptQuery": {"children", "final_operator"},
        "SelectQuery": {
            "with",
            "select",
            "tables",
            "prewhere",
            "where",
            "group_by",
            "having",
            "window",
            "qualify",
            "order_by",
            "limit_by",
            "limit_by_length",
            "limit_by_offset",
            "limit_length",
            "limit_offset",
            "interpolate",
            "distinct",
            "group_by_all",
            "group_by_with_totals",
            "group_by_with_rollup",
            "group_by_with_cube",
            "group_by_with_grouping_sets",
            "group_by_with_constant_keys",
            "limit_with_ties",
            "order_by_all",
            "limit_by_all",
            "recursive_with",
        },
        "ExpressionList": {"children"},
        "Function": {
            "name",
            "arguments",
            "parameters",
            "alias",
            "is_operator",
            "is_window_function",
            "is_lambda_function",
            "kind",
            "nulls_action",
            "window_definition",
            "window_name",
        },
        "Identifier": {"name", "name_parts", "alias"},
        "Literal": {"value", "alias"},
        "Asterisk": _MATCHER,
        "QualifiedAsterisk": {"qualifier"} | _MATCHER,
        "ColumnsRegexpMatcher": {"pattern"} | _MATCHER,
        "ColumnsListMatcher": {"column_list"} | _MATCHER,
        "QualifiedColumnsRegexpMatcher": {"pattern", "qualifier"} | _MATCHER,
        "QualifiedColumnsListMatcher": {"column_list", "qualifier"} | _MATCHER,
        "ColumnsTransformerList": {"children"},
        "ColumnsApplyTransformer": {"func_name", "lambda", "lambda_arg", "parameters", "column_name_prefix"},
        "ColumnsExceptTransformer": {"children", "is_strict", "pattern"},
        "ColumnsReplaceTransformer": {"children", "is_strict"},
        "ColumnsReplaceTransformerReplacement": {"children", "name"},
        "TablesInSelectQuery": {"children"},
        "TablesInSelectQueryElement": {"table_expression", "table_join", "array_join"},
        "TableExpression": {
            "database_and_table_name",
            "table_function",
            "subquery",
            "final",
            "sample_size",
            "sample_offset",
        },
        "TableIdentifier": {"name", "name_parts", "alias"},
        "TableJoin": {"kind", "locality", "strictness", "on_expression", "using_expression_list"},
        "ArrayJoin": {"kind", "expression_list"},
        "Subquery": {"children", "alias", "cte_name"},
        "WithElement": {"name", "subquery", "aliases"},
        "OrderByElement": {
            "direction",
            "nulls_direction",
            "nulls_direction_was_explicitly_specified",
            "collation",
            "with_fill",
            "fill_from",
            "fill_to",
            "fill_step",
            "fill_staleness",
            "expression",
        },
        "InterpolateElement": {"column", "expr"},
        "WindowDefinition": {
            "parent_window_name",
            "partition_by",
            "order_by",
            "frame_is_default",
            "frame_type",
            "frame_begin_type",
            "frame_begin_offset",
            "frame_begin_preceding",
            "frame_end_type",
            "frame_end_offset",
            "frame_end_preceding",
        },
        "WindowListElement": {"name", "definition"},
        "SampleRatio": {"numerator", "denominator"},
    }.items()
}

# What a refused key means, for the message.
REFUSED_CLAUSES = {
    "out_file": "INTO OUTFILE",
    "compression": "INTO OUTFILE",
    "compression_level": "INTO OUTFILE",
    "is_outfile_append": "INTO OUTFILE",
    "is_outfile_truncate": "INTO OUTFILE",
    "is_into_outfile_with_stdout": "INTO OUTFILE",
    "format_ast": "a FORMAT clause (results come back as JSON)",
    "settings": "a SETTINGS clause (the server sets the limits)",
}
REFUSED_STATEMENTS = {
    "KillQueryQuery": "KILL",
    "SystemQuery": "SYSTEM",
    "SetQuery": "SET",
    "UseQuery": "USE",
    "InsertQuery": "INSERT",
    "CreateQuery": "CREATE",
    "DropQuery": "DROP/TRUNCATE",
    "AlterQuery": "ALTER",
    "RenameQuery": "RENAME",
    "OptimizeQuery": "OPTIMIZE",
    "DeleteQuery": "DELETE",
    "UpdateQuery": "UPDATE",
    "CheckTableQuery": "CHECK TABLE",
    "QueryParameter": "a query parameter ({name:Type})",
}
