"""Search: generate programs and schedules with hypothesis, hunt, shrink, explore, save findings."""
