"""The publisher: make AWS Service Catalog match portfolio.yaml and the templates of the build.

desired.py  what should exist (from the portfolio, the build and the caller's account)
state.py    what exists (list/describe calls only)
plan.py     the difference, as typed actions (actions.py)
apply.py    one API call per action
table.py    the plan, or what was done, as text
aws.py      clients with retries and an optional endpoint; permission errors named
publisher.py  the steps together: build check (the build in memory), bucket, plan
"""
