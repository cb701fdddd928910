"""Local web page on top of the predictor: a scene on a map, typed classes, the class map as
an overlay to inspect and download (`python tools/webui.py`, README "Interactive map page").

The server is FastAPI + uvicorn (`app.py`; its API one router per area in `routes/`), the
page is static HTML/JS with Leaflet (`static/`, Leaflet itself from npm via
tools/install.sh), map tiles are cut from the
rasters with rasterio and reprojected to web mercator (`tiles.py`), jobs run one at a time
in a queue (`jobs.py`), every path and upload passes `safety.py`, every user's raster is
opened only by the driver `formats.py` accepted, every request passes `guard.py` (token,
Host, Origin, body type), and `retention.py` bounds uploads, outputs and registries.
"""
