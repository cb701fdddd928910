"""Scene mapping: GeoTIFF scenes of any size through the segmentor, into class maps.

`raster_io` (reading and writing rasters), `sources` (URLs read window by window through
GDAL's virtual file systems) and `stac` (STAC items as scenes), `tiling` (tiles along the slide windows and the
streaming blend of their logits), `predictor` (`predict`, `predict_file`: the scene loop),
`outputs` (summary, overlay, class list), `vectors` (class polygons), `estimates` (what
--dry-run prints), `cli` (`tools/predict.py`) and `region/` (many scenes over torchrun
ranks, resumable, with a mosaic and a catalogue). The small public API re-exports the
functions users call: `segearth_ov.apis`.
"""
