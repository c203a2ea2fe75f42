"""From a trained ensemble to decisions: predict, screen, evaluate, and predictions back to the store."""
