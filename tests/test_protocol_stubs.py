"""The committed Python stubs must describe exactly what protos/impasto/v1/impasto.proto says."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from google.protobuf import descriptor_pb2

from impasto_client.v1 import impasto_pb2, impasto_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent


def _generator():
    spec = importlib.util.spec_from_file_location("generate", ROOT / "protos" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _strip_json_names(messages) -> None:
    """protoc adds json_name to descriptor sets but not to the descriptors it embeds in stubs."""
    for message in messages:
        for field in message.field:
            field.ClearField("json_name")
        _strip_json_names(message.nested_type)


def test_stubs_match_the_proto(tmp_path: Path) -> None:
    descriptor_set = tmp_path / "impasto.pb"
    _generator().compile_protos(tmp_path / "out", descriptor_set)
    fresh = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes()).file[0]
    _strip_json_names(fresh.message_type)
    committed = descriptor_pb2.FileDescriptorProto.FromString(impasto_pb2.DESCRIPTOR.serialized_pb)
    assert committed == fresh, "the stubs drifted from the .proto: run python protos/generate.py"
    for name in ("impasto_pb2.py", "impasto_pb2_grpc.py", "impasto_pb2.pyi"):
        regenerated = (tmp_path / "out" / name).read_text()
        assert (ROOT / "plugins/client/impasto_client/v1" / name).read_text() == regenerated, name


def test_service_stub_has_every_rpc() -> None:
    service = impasto_pb2.DESCRIPTOR.services_by_name["StyleTransfer"]
    for method in service.methods:
        assert hasattr(impasto_pb2_grpc.StyleTransferServicer, method.name)


def test_enums_zero_value_is_unspecified() -> None:
    for enum in impasto_pb2.DESCRIPTOR.enum_types_by_name.values():
        assert enum.values_by_number[0].name.endswith("_UNSPECIFIED"), enum.name
