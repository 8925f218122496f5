"""Model outputs to detections: one module per output format, class-aware NMS, and
conversion to vision_msgs."""

from trtpipe.decode.common import BoxTransform, DecodeOptions
from trtpipe.decode.detections import Detections, detectnet_to_msg
from trtpipe.decode.detectnet import decode_detectnet
from trtpipe.decode.efficient_nms import decode_efficient_nms
from trtpipe.decode.end_to_end import decode_end_to_end
from trtpipe.decode.formats import FORMATS, decode, detect_format
from trtpipe.decode.nms import box_iou, nms
from trtpipe.decode.yolov5 import decode_yolov5
from trtpipe.decode.yolov8 import decode_yolov8

__all__ = [
    "FORMATS",
    "BoxTransform",
    "DecodeOptions",
    "Detections",
    "box_iou",
    "decode",
    "decode_detectnet",
    "decode_efficient_nms",
    "decode_end_to_end",
    "decode_yolov5",
    "decode_yolov8",
    "detect_format",
    "detectnet_to_msg",
    "nms",
]
