"""``lambdaboot conform``: a black-box check of any runtime against the Lambda Runtime API contract.

Each check is a scripted scenario on the local Lambda (faults injected, headers crafted,
functions that fail on purpose) and a verdict that names the spec section it rests on. The
runtime is only ever started as a command, so the kit checks lambdaboot, awslambdaric or
anyone's ``bootstrap`` alike.
"""
