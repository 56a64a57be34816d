"""Measuring the analyzer's judgment against labelled sessions: the dataset format, the metrics, replay."""
