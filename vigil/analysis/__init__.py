"""Analysis of a transcript, by subject: text basics (text/), risk detection (risk/), MITI and the rubric (miti/),
the other outputs (outputs/), and the analyzers that run the tasks (analyzers/)."""
