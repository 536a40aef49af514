"""The narrated lab story (`drctl lab demo`): an app feature that uses the twin in drctl/lab, never part of it."""
