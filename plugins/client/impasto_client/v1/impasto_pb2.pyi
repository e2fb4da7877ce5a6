from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SampleType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SAMPLE_TYPE_UNSPECIFIED: _ClassVar[SampleType]
    SAMPLE_TYPE_UINT8: _ClassVar[SampleType]
    SAMPLE_TYPE_UINT16: _ClassVar[SampleType]
    SAMPLE_TYPE_FLOAT32: _ClassVar[SampleType]

class ChannelLayout(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANNEL_LAYOUT_UNSPECIFIED: _ClassVar[ChannelLayout]
    CHANNEL_LAYOUT_GRAY: _ClassVar[ChannelLayout]
    CHANNEL_LAYOUT_GRAY_ALPHA: _ClassVar[ChannelLayout]
    CHANNEL_LAYOUT_RGB: _ClassVar[ChannelLayout]
    CHANNEL_LAYOUT_RGBA: _ClassVar[ChannelLayout]

class PreserveColor(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRESERVE_COLOR_UNSPECIFIED: _ClassVar[PreserveColor]
    PRESERVE_COLOR_NONE: _ClassVar[PreserveColor]
    PRESERVE_COLOR_LUMINANCE: _ClassVar[PreserveColor]
    PRESERVE_COLOR_HISTOGRAM: _ClassVar[PreserveColor]

class ParamType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PARAM_TYPE_UNSPECIFIED: _ClassVar[ParamType]
    PARAM_TYPE_FLOAT: _ClassVar[ParamType]
    PARAM_TYPE_INT: _ClassVar[ParamType]
    PARAM_TYPE_BOOL: _ClassVar[ParamType]
    PARAM_TYPE_STRING: _ClassVar[ParamType]
    PARAM_TYPE_CHOICE: _ClassVar[ParamType]
SAMPLE_TYPE_UNSPECIFIED: SampleType
SAMPLE_TYPE_UINT8: SampleType
SAMPLE_TYPE_UINT16: SampleType
SAMPLE_TYPE_FLOAT32: SampleType
CHANNEL_LAYOUT_UNSPECIFIED: ChannelLayout
CHANNEL_LAYOUT_GRAY: ChannelLayout
CHANNEL_LAYOUT_GRAY_ALPHA: ChannelLayout
CHANNEL_LAYOUT_RGB: ChannelLayout
CHANNEL_LAYOUT_RGBA: ChannelLayout
PRESERVE_COLOR_UNSPECIFIED: PreserveColor
PRESERVE_COLOR_NONE: PreserveColor
PRESERVE_COLOR_LUMINANCE: PreserveColor
PRESERVE_COLOR_HISTOGRAM: PreserveColor
PARAM_TYPE_UNSPECIFIED: ParamType
PARAM_TYPE_FLOAT: ParamType
PARAM_TYPE_INT: ParamType
PARAM_TYPE_BOOL: ParamType
PARAM_TYPE_STRING: ParamType
PARAM_TYPE_CHOICE: ParamType

class ImageHeader(_message.Message):
    __slots__ = ("width", "height", "layout", "sample_type")
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    LAYOUT_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_TYPE_FIELD_NUMBER: _ClassVar[int]
    width: int
    height: int
    layout: ChannelLayout
    sample_type: SampleType
    def __init__(self, width: _Optional[int] = ..., height: _Optional[int] = ..., layout: _Optional[_Union[ChannelLayout, str]] = ..., sample_type: _Optional[_Union[SampleType, str]] = ...) -> None: ...

class ImageRef(_message.Message):
    __slots__ = ("sha256",)
    SHA256_FIELD_NUMBER: _ClassVar[int]
    sha256: str
    def __init__(self, sha256: _Optional[str] = ...) -> None: ...

class PutImageRequest(_message.Message):
    __slots__ = ("header", "offset", "data")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    header: ImageHeader
    offset: int
    data: bytes
    def __init__(self, header: _Optional[_Union[ImageHeader, _Mapping]] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class PutImageResponse(_message.Message):
    __slots__ = ("ref", "header")
    REF_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    ref: ImageRef
    header: ImageHeader
    def __init__(self, ref: _Optional[_Union[ImageRef, _Mapping]] = ..., header: _Optional[_Union[ImageHeader, _Mapping]] = ...) -> None: ...

class GetImageInfoRequest(_message.Message):
    __slots__ = ("ref",)
    REF_FIELD_NUMBER: _ClassVar[int]
    ref: ImageRef
    def __init__(self, ref: _Optional[_Union[ImageRef, _Mapping]] = ...) -> None: ...

class GetImageInfoResponse(_message.Message):
    __slots__ = ("ref", "header")
    REF_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    ref: ImageRef
    header: ImageHeader
    def __init__(self, ref: _Optional[_Union[ImageRef, _Mapping]] = ..., header: _Optional[_Union[ImageHeader, _Mapping]] = ...) -> None: ...

class GetImageRequest(_message.Message):
    __slots__ = ("ref",)
    REF_FIELD_NUMBER: _ClassVar[int]
    ref: ImageRef
    def __init__(self, ref: _Optional[_Union[ImageRef, _Mapping]] = ...) -> None: ...

class GetImageResponse(_message.Message):
    __slots__ = ("header", "offset", "data")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    header: ImageHeader
    offset: int
    data: bytes
    def __init__(self, header: _Optional[_Union[ImageHeader, _Mapping]] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class ParamValue(_message.Message):
    __slots__ = ("number", "integer", "flag", "text")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    INTEGER_FIELD_NUMBER: _ClassVar[int]
    FLAG_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    number: float
    integer: int
    flag: bool
    text: str
    def __init__(self, number: _Optional[float] = ..., integer: _Optional[int] = ..., flag: _Optional[bool] = ..., text: _Optional[str] = ...) -> None: ...

class NamedMask(_message.Message):
    __slots__ = ("name", "mask")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MASK_FIELD_NUMBER: _ClassVar[int]
    name: str
    mask: ImageRef
    def __init__(self, name: _Optional[str] = ..., mask: _Optional[_Union[ImageRef, _Mapping]] = ...) -> None: ...

class RegionLabels(_message.Message):
    __slots__ = ("label_map", "masks")
    LABEL_MAP_FIELD_NUMBER: _ClassVar[int]
    MASKS_FIELD_NUMBER: _ClassVar[int]
    label_map: ImageRef
    masks: _containers.RepeatedCompositeFieldContainer[NamedMask]
    def __init__(self, label_map: _Optional[_Union[ImageRef, _Mapping]] = ..., masks: _Optional[_Iterable[_Union[NamedMask, _Mapping]]] = ...) -> None: ...

class StyleInput(_message.Message):
    __slots__ = ("image", "builtin", "weight", "labels")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    BUILTIN_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    image: ImageRef
    builtin: str
    weight: float
    labels: RegionLabels
    def __init__(self, image: _Optional[_Union[ImageRef, _Mapping]] = ..., builtin: _Optional[str] = ..., weight: _Optional[float] = ..., labels: _Optional[_Union[RegionLabels, _Mapping]] = ...) -> None: ...

class StylizeRequest(_message.Message):
    __slots__ = ("method", "content", "styles", "mask", "preserve_color", "params", "preview_every", "content_labels")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: ParamValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[ParamValue, _Mapping]] = ...) -> None: ...
    METHOD_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    STYLES_FIELD_NUMBER: _ClassVar[int]
    MASK_FIELD_NUMBER: _ClassVar[int]
    PRESERVE_COLOR_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_EVERY_FIELD_NUMBER: _ClassVar[int]
    CONTENT_LABELS_FIELD_NUMBER: _ClassVar[int]
    method: str
    content: ImageRef
    styles: _containers.RepeatedCompositeFieldContainer[StyleInput]
    mask: ImageRef
    preserve_color: PreserveColor
    params: _containers.MessageMap[str, ParamValue]
    preview_every: int
    content_labels: RegionLabels
    def __init__(self, method: _Optional[str] = ..., content: _Optional[_Union[ImageRef, _Mapping]] = ..., styles: _Optional[_Iterable[_Union[StyleInput, _Mapping]]] = ..., mask: _Optional[_Union[ImageRef, _Mapping]] = ..., preserve_color: _Optional[_Union[PreserveColor, str]] = ..., params: _Optional[_Mapping[str, ParamValue]] = ..., preview_every: _Optional[int] = ..., content_labels: _Optional[_Union[RegionLabels, _Mapping]] = ...) -> None: ...

class QueuePosition(_message.Message):
    __slots__ = ("position",)
    POSITION_FIELD_NUMBER: _ClassVar[int]
    position: int
    def __init__(self, position: _Optional[int] = ...) -> None: ...

class Progress(_message.Message):
    __slots__ = ("stage", "step", "total", "loss")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    stage: str
    step: int
    total: int
    loss: float
    def __init__(self, stage: _Optional[str] = ..., step: _Optional[int] = ..., total: _Optional[int] = ..., loss: _Optional[float] = ...) -> None: ...

class Preview(_message.Message):
    __slots__ = ("header", "data", "step")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    header: ImageHeader
    data: bytes
    step: int
    def __init__(self, header: _Optional[_Union[ImageHeader, _Mapping]] = ..., data: _Optional[bytes] = ..., step: _Optional[int] = ...) -> None: ...

class ResultLayer(_message.Message):
    __slots__ = ("name", "image", "header")
    NAME_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    name: str
    image: ImageRef
    header: ImageHeader
    def __init__(self, name: _Optional[str] = ..., image: _Optional[_Union[ImageRef, _Mapping]] = ..., header: _Optional[_Union[ImageHeader, _Mapping]] = ...) -> None: ...

class Result(_message.Message):
    __slots__ = ("image", "header", "seconds", "extra_layers")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    EXTRA_LAYERS_FIELD_NUMBER: _ClassVar[int]
    image: ImageRef
    header: ImageHeader
    seconds: float
    extra_layers: _containers.RepeatedCompositeFieldContainer[ResultLayer]
    def __init__(self, image: _Optional[_Union[ImageRef, _Mapping]] = ..., header: _Optional[_Union[ImageHeader, _Mapping]] = ..., seconds: _Optional[float] = ..., extra_layers: _Optional[_Iterable[_Union[ResultLayer, _Mapping]]] = ...) -> None: ...

class StylizeResponse(_message.Message):
    __slots__ = ("queued", "progress", "preview", "result")
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    queued: QueuePosition
    progress: Progress
    preview: Preview
    result: Result
    def __init__(self, queued: _Optional[_Union[QueuePosition, _Mapping]] = ..., progress: _Optional[_Union[Progress, _Mapping]] = ..., preview: _Optional[_Union[Preview, _Mapping]] = ..., result: _Optional[_Union[Result, _Mapping]] = ...) -> None: ...

class ParamSpec(_message.Message):
    __slots__ = ("name", "type", "default_value", "minimum", "maximum", "choices", "help")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VALUE_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_FIELD_NUMBER: _ClassVar[int]
    MAXIMUM_FIELD_NUMBER: _ClassVar[int]
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    HELP_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: ParamType
    default_value: ParamValue
    minimum: float
    maximum: float
    choices: _containers.RepeatedScalarFieldContainer[str]
    help: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[_Union[ParamType, str]] = ..., default_value: _Optional[_Union[ParamValue, _Mapping]] = ..., minimum: _Optional[float] = ..., maximum: _Optional[float] = ..., choices: _Optional[_Iterable[str]] = ..., help: _Optional[str] = ...) -> None: ...

class MethodInfo(_message.Message):
    __slots__ = ("name", "title", "description", "params", "max_styles", "takes_style_images", "takes_builtin_styles", "takes_mask", "takes_label_maps", "supports_preserve_color")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    MAX_STYLES_FIELD_NUMBER: _ClassVar[int]
    TAKES_STYLE_IMAGES_FIELD_NUMBER: _ClassVar[int]
    TAKES_BUILTIN_STYLES_FIELD_NUMBER: _ClassVar[int]
    TAKES_MASK_FIELD_NUMBER: _ClassVar[int]
    TAKES_LABEL_MAPS_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_PRESERVE_COLOR_FIELD_NUMBER: _ClassVar[int]
    name: str
    title: str
    description: str
    params: _containers.RepeatedCompositeFieldContainer[ParamSpec]
    max_styles: int
    takes_style_images: bool
    takes_builtin_styles: bool
    takes_mask: bool
    takes_label_maps: bool
    supports_preserve_color: bool
    def __init__(self, name: _Optional[str] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., params: _Optional[_Iterable[_Union[ParamSpec, _Mapping]]] = ..., max_styles: _Optional[int] = ..., takes_style_images: _Optional[bool] = ..., takes_builtin_styles: _Optional[bool] = ..., takes_mask: _Optional[bool] = ..., takes_label_maps: _Optional[bool] = ..., supports_preserve_color: _Optional[bool] = ...) -> None: ...

class ListMethodsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListMethodsResponse(_message.Message):
    __slots__ = ("methods", "device")
    METHODS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    methods: _containers.RepeatedCompositeFieldContainer[MethodInfo]
    device: DeviceInfo
    def __init__(self, methods: _Optional[_Iterable[_Union[MethodInfo, _Mapping]]] = ..., device: _Optional[_Union[DeviceInfo, _Mapping]] = ...) -> None: ...

class DeviceInfo(_message.Message):
    __slots__ = ("name", "model", "auto_precision", "precision_reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    AUTO_PRECISION_FIELD_NUMBER: _ClassVar[int]
    PRECISION_REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    model: str
    auto_precision: str
    precision_reason: str
    def __init__(self, name: _Optional[str] = ..., model: _Optional[str] = ..., auto_precision: _Optional[str] = ..., precision_reason: _Optional[str] = ...) -> None: ...

class StyleInfo(_message.Message):
    __slots__ = ("id", "name", "method", "license", "thumbnail_header", "thumbnail")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    LICENSE_FIELD_NUMBER: _ClassVar[int]
    THUMBNAIL_HEADER_FIELD_NUMBER: _ClassVar[int]
    THUMBNAIL_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    method: str
    license: str
    thumbnail_header: ImageHeader
    thumbnail: bytes
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., method: _Optional[str] = ..., license: _Optional[str] = ..., thumbnail_header: _Optional[_Union[ImageHeader, _Mapping]] = ..., thumbnail: _Optional[bytes] = ...) -> None: ...

class ListStylesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListStylesResponse(_message.Message):
    __slots__ = ("styles",)
    STYLES_FIELD_NUMBER: _ClassVar[int]
    styles: _containers.RepeatedCompositeFieldContainer[StyleInfo]
    def __init__(self, styles: _Optional[_Iterable[_Union[StyleInfo, _Mapping]]] = ...) -> None: ...

class TrainRequest(_message.Message):
    __slots__ = ("kind", "name", "style", "photos_dir", "params", "resume", "overwrite", "preview_every")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: ParamValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[ParamValue, _Mapping]] = ...) -> None: ...
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STYLE_FIELD_NUMBER: _ClassVar[int]
    PHOTOS_DIR_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_EVERY_FIELD_NUMBER: _ClassVar[int]
    kind: str
    name: str
    style: ImageRef
    photos_dir: str
    params: _containers.MessageMap[str, ParamValue]
    resume: bool
    overwrite: bool
    preview_every: int
    def __init__(self, kind: _Optional[str] = ..., name: _Optional[str] = ..., style: _Optional[_Union[ImageRef, _Mapping]] = ..., photos_dir: _Optional[str] = ..., params: _Optional[_Mapping[str, ParamValue]] = ..., resume: _Optional[bool] = ..., overwrite: _Optional[bool] = ..., preview_every: _Optional[int] = ...) -> None: ...

class TrainProgress(_message.Message):
    __slots__ = ("step", "total", "losses", "steps_per_second", "eta_seconds")
    class LossesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    STEP_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    LOSSES_FIELD_NUMBER: _ClassVar[int]
    STEPS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    ETA_SECONDS_FIELD_NUMBER: _ClassVar[int]
    step: int
    total: int
    losses: _containers.ScalarMap[str, float]
    steps_per_second: float
    eta_seconds: float
    def __init__(self, step: _Optional[int] = ..., total: _Optional[int] = ..., losses: _Optional[_Mapping[str, float]] = ..., steps_per_second: _Optional[float] = ..., eta_seconds: _Optional[float] = ...) -> None: ...

class TrainedModel(_message.Message):
    __slots__ = ("kind", "name", "style_id", "method", "steps", "seconds")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STYLE_ID_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    kind: str
    name: str
    style_id: str
    method: str
    steps: int
    seconds: float
    def __init__(self, kind: _Optional[str] = ..., name: _Optional[str] = ..., style_id: _Optional[str] = ..., method: _Optional[str] = ..., steps: _Optional[int] = ..., seconds: _Optional[float] = ...) -> None: ...

class TrainResponse(_message.Message):
    __slots__ = ("queued", "progress", "preview", "model")
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    queued: QueuePosition
    progress: TrainProgress
    preview: Preview
    model: TrainedModel
    def __init__(self, queued: _Optional[_Union[QueuePosition, _Mapping]] = ..., progress: _Optional[_Union[TrainProgress, _Mapping]] = ..., preview: _Optional[_Union[Preview, _Mapping]] = ..., model: _Optional[_Union[TrainedModel, _Mapping]] = ...) -> None: ...

class TrainerInfo(_message.Message):
    __slots__ = ("kind", "title", "description", "params", "takes_style_image", "takes_photos", "model_kind", "method")
    KIND_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    TAKES_STYLE_IMAGE_FIELD_NUMBER: _ClassVar[int]
    TAKES_PHOTOS_FIELD_NUMBER: _ClassVar[int]
    MODEL_KIND_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    kind: str
    title: str
    description: str
    params: _containers.RepeatedCompositeFieldContainer[ParamSpec]
    takes_style_image: bool
    takes_photos: bool
    model_kind: str
    method: str
    def __init__(self, kind: _Optional[str] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., params: _Optional[_Iterable[_Union[ParamSpec, _Mapping]]] = ..., takes_style_image: _Optional[bool] = ..., takes_photos: _Optional[bool] = ..., model_kind: _Optional[str] = ..., method: _Optional[str] = ...) -> None: ...

class ListTrainersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListTrainersResponse(_message.Message):
    __slots__ = ("trainers",)
    TRAINERS_FIELD_NUMBER: _ClassVar[int]
    trainers: _containers.RepeatedCompositeFieldContainer[TrainerInfo]
    def __init__(self, trainers: _Optional[_Iterable[_Union[TrainerInfo, _Mapping]]] = ...) -> None: ...
