"""Who is asking (principals), what they may do, and how often."""
