"""Bradley-Terry leaderboards from pairwise votes: fitting, uncertainty, and published reports.

Reads battles in FastChat's cleaned-battle format; knows nothing of the arena or the evaluation harness
beyond the files they write.
"""
