"""Set-up checks: is everything in place for the pipelines to run, and if not, what to fix."""
