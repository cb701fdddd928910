"""Runs inside QGIS's own Python (/usr/bin/python3, started by test_qgis_plugin.py): loads the
plugin's provider, runs its algorithms through processing.run / runAndLoadResults, and
writes what QGIS sees of the outputs as JSON.

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 in_qgis.py SPEC.json REPORT.json

SPEC: {"plugin_parent": dir, "runs": [{"alg": id, "params": {...}, "load": bool,
"cancel_at": percent or null, "setting": the plugin's Python setting}]}. A test script,
not part of the plugin.
"""
import json
import sys
import time

from qgis.core import (QgsApplication, QgsProcessingException, QgsProcessingFeedback,
                       QgsProject, QgsRasterLayer, QgsVectorLayer)


def raster_report(path):
    layer = QgsRasterLayer(path, 'check')
    renderer = layer.renderer()
    classes = [(int(c.value), c.label, c.color.name()) for c in renderer.classes()] \
        if renderer.type() == 'paletted' else []
    return dict(valid=layer.isValid(), crs=layer.crs().authid(), renderer=renderer.type(),
                classes=classes, width=layer.width(), height=layer.height(),
                bands=layer.bandCount())


def vector_report(path):
    layer = QgsVectorLayer(path, 'check', 'ogr')
    renderer = layer.renderer()
    areas, counts = {}, {}
    for f in layer.getFeatures():
        k = f['class_index']
        areas[k] = areas.get(k, 0.0) + f.geometry().area()
        counts[k] = counts.get(k, 0) + 1
    categories = [(int(c.value()), c.label(), c.symbol().color().name())
                  for c in renderer.categories()] if renderer.type() == 'categorizedSymbol' else []
    return dict(valid=layer.isValid(), crs=layer.crs().authid(), features=layer.featureCount(),
                fields=[f.name() for f in layer.fields()], renderer=renderer.type(),
                attribute=getattr(renderer, 'classAttribute', lambda: None)(),
                categories=categories, areas={str(k): v for k, v in areas.items()},
                counts={str(k): v for k, v in counts.items()})


class Feedback(QgsProcessingFeedback):
    def __init__(self, cancel_at=None):
        super().__init__()
        self.progress, self.infos, self.errors, self.commands = [], [], [], []
        self.cancel_at, self.canceled_at = cancel_at, None
        self.progressChanged.connect(self._progress)

    def _progress(self, value):
        self.progress.append(value)
        if self.cancel_at is not None and value >= self.cancel_at and self.canceled_at is None:
            self.canceled_at = time.time()
            self.cancel()

    def pushInfo(self, info):
        self.infos.append(info)

    def pushCommandInfo(self, info):
        self.commands.append(info)

    def reportError(self, error, fatalError=False):
        self.errors.append(error)


def main(spec_path, report_path):
    spec = json.loads(open(spec_path).read())
    QgsApplication.setPrefixPath('/usr', True)
    app = QgsApplication([], False)
    app.initQgis()
    sys.path[:0] = ['/usr/share/qgis/python/plugins', spec['plugin_parent']]
    import processing
    from processing.core.Processing import Processing
    Processing.initialize()
    import segearth_ov_qgis
    plugin = segearth_ov_qgis.classFactory(None)
    plugin.initProcessing()
    registry = QgsApplication.processingRegistry()
    provider = registry.providerById('segearth_ov')
    report = dict(provider=provider.name(), icon=not provider.icon().isNull(),
                  algorithms=sorted(a.id() for a in provider.algorithms()),
                  display=sorted(a.displayName() for a in provider.algorithms()), runs=[])
    from processing.core.ProcessingConfig import ProcessingConfig
    for run in spec['runs']:
        # the plugin's setting (Settings ▸ Options ▸ Processing ▸ Providers ▸ SegEarth-OV)
        ProcessingConfig.setSettingValue('SEGEARTH_OV_PYTHON', run.get('setting', ''))
        feedback = Feedback(run.get('cancel_at'))
        t0 = time.time()
        record = dict()
        try:
            fn = processing.runAndLoadResults if run.get('load') else processing.run
            results = fn(run['alg'], run['params'], feedback=feedback)
            record['results'] = {k: v for k, v in results.items() if isinstance(v, str)}
        except QgsProcessingException as err:
            record['exception'] = str(err)
        record.update(seconds=time.time() - t0, progress=feedback.progress,
                      infos=feedback.infos, errors=feedback.errors, commands=feedback.commands,
                      stopped_after=None if feedback.canceled_at is None
                      else time.time() - feedback.canceled_at)
        out = record.get('results', {})
        if out.get('OUTPUT'):
            record['raster'] = raster_report(out['OUTPUT'])
        if out.get('OUTPUT_PROBS'):
            record['probs'] = raster_report(out['OUTPUT_PROBS'])
        if out.get('OUTPUT_POLYGONS'):
            record['polygons'] = vector_report(out['OUTPUT_POLYGONS'])
        if run.get('load'):
            layers = QgsProject.instance().mapLayers().values()
            record['loaded'] = sorted((lyr.name(), lyr.renderer().type()) for lyr in layers)
        report['runs'].append(record)
    plugin.unload()
    with open(report_path, 'w') as f:
        json.dump(report, f, indent=1)
    app.exitQgis()


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
