"""Classification over a dataset: label sets, zero-shot, kNN, the pairwise tourney, evaluation."""
