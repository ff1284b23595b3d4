"""Many decisions: batch files and streams, Apache Spark."""
