"""Text basics every analysis task shares: sentences, turns and who holds them, counselor moves, word lists, a small
linear text model, evidence quotes."""
