"""
ScriptsManager Metadata:
@description: Prints one line and exits
@required_level: operator
@parameters: []
"""
print("hello", flush=True)
