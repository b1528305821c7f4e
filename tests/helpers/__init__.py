"""What several test modules share; test modules import from here, never from each other.

helpers.schema: the shipped schema's path, edited copies of it, where a table starts.
helpers.commands: tdx-codegen and git, run in a child process as a user runs them.
"""
