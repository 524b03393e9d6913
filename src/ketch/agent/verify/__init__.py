"""The closed loop for small models: ketch runs the project's tests itself and shows the model what failed.

`detect` finds the test command, `failure` trims its output and reads the traceback's frames,
`localize` turns frames and names into the code to change, `closed_loop` is what the agent loop calls.
"""
