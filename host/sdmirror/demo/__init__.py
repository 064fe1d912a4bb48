"""`sdmirror demo`: the emulated pair tells its story (story.py), measured (measure.py) and
reported (report.py) in demo-report/."""
