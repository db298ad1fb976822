"""Plans as data (API.md section 10): a plan's window, activities, quotas and targets."""
