"""`trackheat view`: a local web viewer of the store, drawn by trackheat's own renderer.

server.py binds 127.0.0.1 and runs the app; app.py is the HTTP side (token,
Host check, routes); explorer.py answers in data (sessions, timeline, stats,
images, counts); static/ is the page (HTML, CSS, JavaScript, no build step).
Starlette and uvicorn come with the optional extra `trackheat[view]`; nothing
here imports them until the viewer starts.
"""
