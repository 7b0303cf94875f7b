"""`labcatalog cost`: monthly cost estimates for a usage profile, from the built templates.

usage.py reads the usage file, prices.py the price list, resources.py what the templates in
build/ create; model.py does the arithmetic and report.py prints it as a table or JSON.
"""
