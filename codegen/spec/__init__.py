"""The spec front end: schema/*.toml in, a validated Catalogue out.

    toml_source  TOML documents with the source position of every key
    shapes       pydantic models: the shape and types of each table
    rules        whole-schema checks, each reporting under a rule name
    model        the frozen, sorted Catalogue that emitters and the simulator see
    compiler     the pipeline that runs the steps above in order
    diagnostics  file:line:col messages with carets, text and JSON
"""
