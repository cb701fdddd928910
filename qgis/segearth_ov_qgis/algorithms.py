"""The Processing algorithms: "Segment raster by class names" and "Segment with a trained
HG-RSOVSSeg model". Each runs the predictor of the SegEarth-OV environment (runner.py) on
the layer's file (or a VRT of the chosen extent), follows its JSON progress, and moves its
class raster (with its colour table, class names and `.qml`), polygons and probabilities
to the outputs the user chose; the polygons get a style by class in the raster's colours."""
from __future__ import annotations

import json
import os
import shlex
import shutil
import tempfile
from pathlib import Path

from qgis.core import (QgsCategorizedSymbolRenderer, QgsFillSymbol, QgsProcessing,
                       QgsProcessingAlgorithm, QgsProcessingException,
                       QgsProcessingLayerPostProcessorInterface, QgsProcessingOutputFile,
                       QgsProcessingParameterDefinition, QgsProcessingParameterEnum,
                       QgsProcessingParameterExtent, QgsProcessingParameterFile,
                       QgsProcessingParameterRasterDestination,
                       QgsProcessingParameterRasterLayer, QgsProcessingParameterString,
                       QgsProcessingParameterVectorDestination, QgsRendererCategory,
                       QgsVectorLayer)
from qgis.PyQt.QtCore import QCoreApplication

from . import runner
from .arguments import (BACKBONES, DEVICES, UPSAMPLERS, palette, predictor_arguments,
                        vector_format)

SETTING_PYTHON = 'SEGEARTH_OV_PYTHON'
DEFAULT_CLASSES = 'background;building,roof,house;road;tree,forest;water,river;grass;cropland'
_KEEP = []      # post-processors must outlive processAlgorithm (QGIS holds no reference)


def predictor_setting() -> str:
    try:
        from processing.core.ProcessingConfig import ProcessingConfig
        return ProcessingConfig.getSetting(SETTING_PYTHON) or ''
    except ImportError:      # the processing plugin is not loaded
        return ''


class _StyleAndName(QgsProcessingLayerPostProcessorInterface):
    """Names a loaded output after the input layer and applies its `.qml`."""

    def __init__(self, name: str, qml: str | None):
        super().__init__()
        self.name, self.qml = name, qml

    def postProcessLayer(self, layer, context, feedback):
        layer.setName(self.name)
        if self.qml and Path(self.qml).is_file():
            layer.loadNamedStyle(self.qml)
            layer.triggerRepaint()


class SegmentByClassNames(QgsProcessingAlgorithm):
    INPUT, EXTENT, CLASSES, CLASS_FILE = 'INPUT', 'EXTENT', 'CLASSES', 'CLASS_FILE'
    BACKBONE, UPSAMPLER, BANDS = 'BACKBONE', 'UPSAMPLER', 'BANDS'
    CONFIG, CHECKPOINT = 'CONFIG', 'CHECKPOINT'
    PRETRAINED, MODEL_CFG, UPSAMPLER_CKPT = 'PRETRAINED', 'MODEL_CFG', 'UPSAMPLER_CKPT'
    DEVICE, OPTIONS = 'DEVICE', 'OPTIONS'
    OUTPUT, OUTPUT_POLYGONS, OUTPUT_PROBS, SUMMARY = (
        'OUTPUT', 'OUTPUT_POLYGONS', 'OUTPUT_PROBS', 'SUMMARY')
    trained = False

    def tr(self, text):
        return QCoreApplication.translate('SegEarthOV', text)

    def name(self):
        return 'segment_by_class_names'

    def displayName(self):
        return self.tr('Segment raster by class names')

    def createInstance(self):
        return type(self)()

    def shortHelpString(self):
        return self.tr(
            'Open-vocabulary segmentation of a raster layer with SegEarth-OV: type the classes '
            '(separated by ";", synonyms by ",", e.g. "building,roof;road;water,river") and '
            'get a class raster (class names and colours), optionally polygons and class '
            'probabilities. Runs locally in the SegEarth-OV environment (its Python is found '
            'from the environment QGIS was started in, or set in Settings ▸ Options ▸ '
            'Processing ▸ Providers ▸ SegEarth-OV). Without weight files the preset\'s released '
            'weights are downloaded on first use.')

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, self.tr('Raster layer')))
        self.addParameter(QgsProcessingParameterExtent(
            self.EXTENT, self.tr('Extent (default: the whole layer)'), optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.CLASSES, self.tr('Class names (classes separated by ";", synonyms by ",")'),
            defaultValue='' if self.trained else DEFAULT_CLASSES, optional=True))
        self.addParameter(QgsProcessingParameterFile(
            self.CLASS_FILE, self.tr('Class file (one class per line; instead of the names)'),
            optional=True))
        if self.trained:
            self.addParameter(QgsProcessingParameterFile(
                self.CONFIG, self.tr('Config of the trained model (.py)'), extension='py'))
            self.addParameter(QgsProcessingParameterFile(
                self.CHECKPOINT, self.tr('Checkpoint of the trained model (tools/train.py)')))
        else:
            self.addParameter(QgsProcessingParameterEnum(
                self.BACKBONE, self.tr('Backbone preset'),
                options=[self.tr("default (CLIP ViT-B/16, or the config's)")]
                + [f'{c} {v}' for c, v in BACKBONES], defaultValue=0))
            self.addParameter(QgsProcessingParameterEnum(
                self.UPSAMPLER, self.tr('Feature upsampler'),
                options=[self.tr("default (jbu_one, or the config's)")] + UPSAMPLERS,
                defaultValue=0))
        self.addParameter(QgsProcessingParameterString(
            self.BANDS, self.tr('Bands used as R,G,B, or one band (e.g. 3,2,1; default: the '
                                "file's)"), optional=True))
        advanced = []
        if not self.trained:
            advanced += [
                QgsProcessingParameterFile(self.CONFIG, self.tr('Model config (.py, optional)'),
                                           extension='py', optional=True),
                QgsProcessingParameterFile(self.CHECKPOINT, self.tr(
                    'Checkpoint of a trained model (with its config)'), optional=True),
                QgsProcessingParameterFile(self.PRETRAINED, self.tr(
                    "CLIP weights file (instead of the preset's download)"), optional=True),
                QgsProcessingParameterFile(self.MODEL_CFG, self.tr(
                    'open_clip model config JSON (custom architectures)'), extension='json',
                    optional=True),
                QgsProcessingParameterFile(self.UPSAMPLER_CKPT, self.tr(
                    'SimFeatUp checkpoint (instead of the download)'), optional=True)]
        advanced += [
            QgsProcessingParameterEnum(self.DEVICE, self.tr('Device'), options=[
                self.tr('default (cuda if present, else cpu)')] + DEVICES, defaultValue=0),
            QgsProcessingParameterString(self.OPTIONS, self.tr(
                'Other predictor options (e.g. --gsd 1.0 --vector-min-area 20)'), optional=True)]
        for p in advanced:
            p.setFlags(p.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
            self.addParameter(p)
        self.addParameter(QgsProcessingParameterRasterDestination(
            self.OUTPUT, self.tr('Class raster')))
        self.addParameter(QgsProcessingParameterVectorDestination(
            self.OUTPUT_POLYGONS, self.tr('Polygons'), QgsProcessing.TypeVectorPolygon,
            optional=True, createByDefault=False))
        self.addParameter(QgsProcessingParameterRasterDestination(
            self.OUTPUT_PROBS, self.tr('Class probabilities'), optional=True,
            createByDefault=False))
        self.addOutput(QgsProcessingOutputFile(self.SUMMARY, self.tr('Summary (JSON)')))

    # ------------------------------------------------------------------ running
    def _arguments(self, parameters, context, image, work, polygons, probs):
        def text(name):
            return self.parameterAsString(parameters, name, context) if name in parameters \
                else ''

        def file(name):
            return self.parameterAsFile(parameters, name, context) if name in parameters else ''

        def choice(name, options):
            if name not in parameters:
                return None
            i = self.parameterAsEnum(parameters, name, context)
            return options[i - 1] if i > 0 else None
        return predictor_arguments(
            image, work, classes=text(self.CLASSES), class_file=file(self.CLASS_FILE),
            backbone=choice(self.BACKBONE, BACKBONES), upsampler=choice(self.UPSAMPLER, UPSAMPLERS),
            bands=text(self.BANDS), config=file(self.CONFIG), checkpoint=file(self.CHECKPOINT),
            pretrained=file(self.PRETRAINED), model_cfg=file(self.MODEL_CFG),
            upsampler_ckpt=file(self.UPSAMPLER_CKPT), device=choice(self.DEVICE, DEVICES),
            vector=vector_format(polygons) if polygons else None, save_probs=bool(probs),
            extra=text(self.OPTIONS))

    def processAlgorithm(self, parameters, context, feedback):
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        if layer is None:
            raise QgsProcessingException(self.invalidRasterError(parameters, self.INPUT))
        labels = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        polygons = self.parameterAsOutputLayer(parameters, self.OUTPUT_POLYGONS, context)
        probs = self.parameterAsOutputLayer(parameters, self.OUTPUT_PROBS, context)
        if Path(labels).suffix.lower() not in ('.tif', '.tiff'):
            raise QgsProcessingException(self.tr('the class raster is a GeoTIFF: give a .tif '
                                                 'file'))
        Path(labels).parent.mkdir(parents=True, exist_ok=True)
        work = tempfile.mkdtemp(prefix='.segearth_ov_', dir=str(Path(labels).parent))
        try:
            image = self._source(parameters, context, layer, work)
            try:
                args = self._arguments(parameters, context, image, work, polygons, probs)
                command = runner.find_predictor(predictor_setting()) + args
            except (ValueError, runner.PredictorNotFound) as err:
                raise QgsProcessingException(str(err))
            feedback.pushCommandInfo(' '.join(shlex.quote(a) for a in command))
            try:
                outputs = runner.run(command, _Progress(feedback), feedback.pushConsoleInfo,
                                     feedback.isCanceled)
            except (runner.PredictorFailed, runner.Canceled) as err:
                for line in str(err).splitlines()[1:]:
                    feedback.reportError(line)
                raise QgsProcessingException(str(err))
            files = outputs[-1]['outputs']
            qml = str(Path(labels).with_suffix('.qml'))
            _move(files['labels'], labels)
            _move(files['labels'] + '.aux.xml', labels + '.aux.xml')
            _move(str(Path(files['labels']).with_suffix('.qml')), qml)
            summary = str(Path(labels).with_suffix('.json'))
            _move(files['summary'], summary)
            _rewrite_outputs(summary, files, dict(labels=labels, summary=summary,
                                                  probs=probs, polygons=polygons))
            result = {self.OUTPUT: labels, self.SUMMARY: summary}
            names = {labels: (f'{layer.name()} classes', qml)}
            if probs:
                _move(files['probs'], probs)
                result[self.OUTPUT_PROBS] = probs
                names[probs] = (f'{layer.name()} class probabilities', None)
            if polygons:
                _move(files['polygons'], polygons)
                style = str(Path(polygons).with_suffix('.qml'))
                write_polygon_style(polygons, palette(qml), style)
                result[self.OUTPUT_POLYGONS] = polygons
                names[polygons] = (f'{layer.name()} polygons', style)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        for path, (name, style) in names.items():
            if context.willLoadLayerOnCompletion(path):
                post = _StyleAndName(name, style)
                _KEEP[:] = _KEEP[-20:] + [post]
                context.layerToLoadOnCompletionDetails(path).setPostProcessor(post)
        feedback.setProgress(100)
        return result

    def _source(self, parameters, context, layer, work) -> str:
        """The layer's file, or a VRT of it clipped to the chosen extent (named after the
        layer, so that the predictor's messages name it)."""
        if layer.providerType() != 'gdal':
            raise QgsProcessingException(self.tr(
                f'{layer.name()} is not a raster file GDAL reads ({layer.providerType()}): '
                'save it as a GeoTIFF first (Export ▸ Save As…)'))
        path = layer.source().split('|')[0]
        if self.parameterAsString(parameters, self.EXTENT, context) in ('', None):
            return path
        extent = self.parameterAsExtent(parameters, self.EXTENT, context, layer.crs())
        extent = extent.intersect(layer.extent())
        if extent.isEmpty():
            raise QgsProcessingException(self.tr(
                f'the extent does not overlap {layer.name()}: choose one inside the layer'))
        from osgeo import gdal
        gdal.UseExceptions()
        stem = ''.join(c if c.isalnum() or c in '-_' else '_' for c in layer.name()) or 'layer'
        vrt = os.path.join(work, f'{stem}.vrt')
        gdal.Translate(vrt, path, format='VRT', projWin=[extent.xMinimum(), extent.yMaximum(),
                                                         extent.xMaximum(), extent.yMinimum()])
        return vrt


class SegmentWithTrainedModel(SegmentByClassNames):
    trained = True

    def name(self):
        return 'segment_with_trained_model'

    def displayName(self):
        return self.tr('Segment with a trained HG-RSOVSSeg model')

    def shortHelpString(self):
        return self.tr(
            'Segment a raster layer with a decoder trained by SegEarth-OV\'s tools/train.py '
            '(HG-RSOVSSeg): its config and checkpoint, and the class names it was trained '
            'with (or new ones). Outputs as "Segment raster by class names".')


class _Progress:
    """The predictor's JSON events → QGIS's progress bar and log: building the model 0–5 %,
    the tiles of the inputs 5–95 %, the files 95–100 %."""

    def __init__(self, feedback):
        self.feedback = feedback

    def __call__(self, event):
        kind, fb = event.get('event'), self.feedback
        if kind == 'stage' and event['stage'] == 'model':
            fb.pushInfo('SegEarth-OV: building the model')
            fb.setProgress(1)
        elif kind == 'stage' and event['stage'] == 'segment':
            fb.pushInfo(f"SegEarth-OV: segmenting {event['input']}")
            fb.setProgress(5)
        elif kind == 'progress':
            part = (event['file'] - 1 + event['done'] / max(event['total'], 1)) / event['files']
            fb.setProgress(5 + 90 * part)
        elif kind == 'output':
            fb.pushInfo('SegEarth-OV: ' + ', '.join(
                f"{c['name']} {100 * c['fraction']:.1f} %" for c in event['classes']))
            fb.setProgress(95)


def _rewrite_outputs(summary: str, moved: dict, final: dict) -> None:
    """The summary's list of files, with the names the files now have."""
    with open(summary, encoding='utf-8') as f:
        record = json.load(f)
    where = {moved[k]: final[k] for k in moved if final.get(k)}
    if isinstance(record, dict) and 'outputs' in record:
        record['outputs'] = [where[p] for p in record['outputs'] if p in where]
        with open(summary, 'w', encoding='utf-8') as f:
            json.dump(record, f, indent=2)


def _move(src: str, dst: str) -> None:
    if os.path.exists(dst):
        os.remove(dst)
    shutil.move(src, dst)


def write_polygon_style(polygons: str, entries, qml: str) -> None:
    """A `.qml` beside the polygons (QGIS loads it with the layer): a category per class
    (`class_index`) filled in the class raster's colour."""
    layer = QgsVectorLayer(polygons, 'polygons', 'ogr')
    categories = []
    for value, name, colour in entries:
        symbol = QgsFillSymbol.createSimple({'color': colour, 'outline_color': '#202020',
                                             'outline_width': '0.1'})
        categories.append(QgsRendererCategory(value, symbol, name))
    layer.setRenderer(QgsCategorizedSymbolRenderer('class_index', categories))
    message, ok = layer.saveNamedStyle(qml)
    if not ok:
        raise QgsProcessingException(f'could not write the polygons\' style {qml}: {message}')
