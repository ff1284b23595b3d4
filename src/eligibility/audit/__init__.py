"""What an auditor keeps and checks: decision records, policy diffs, the policy book."""
