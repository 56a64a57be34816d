"""What an analysis writes for people besides risk and rubric: the summary, action items, conversation analytics,
the refined transcript."""
