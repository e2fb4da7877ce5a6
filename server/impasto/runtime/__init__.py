"""What the code runs on: precision choice, memory budget, allocator tuning and verified weights."""
