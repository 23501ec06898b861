"""Long work as rows of the jobs table: the runner, loads, exports, deleting a dataset."""
