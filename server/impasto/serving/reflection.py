"""Server reflection under both names tools use: grpc.reflection.v1 (current) and v1alpha (older tools).

grpcio-reflection implements only v1alpha. The two protocols' messages are the same field for field, so the
v1alpha servicer answers v1 requests as they are, under v1's method path; v1's descriptor (v1alpha's under the new
package name) is added to the pool so that tools can describe the reflection service itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2

V1_PACKAGE = "grpc.reflection.v1"
V1_SERVICE = f"{V1_PACKAGE}.ServerReflection"


def _register_v1_descriptor() -> None:
    pool = descriptor_pool.Default()
    try:
        pool.FindServiceByName(V1_SERVICE)
        return
    except KeyError:
        pass
    proto = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(proto)
    proto.name = "grpc/reflection/v1/reflection.proto"
    proto.package = V1_PACKAGE
    for message in proto.message_type:
        for fld in message.field:
            if fld.type_name.startswith(".grpc.reflection.v1alpha."):
                fld.type_name = fld.type_name.replace(".v1alpha.", ".v1.")
    for service in proto.service:
        for method in service.method:
            method.input_type = method.input_type.replace(".v1alpha.", ".v1.")
            method.output_type = method.output_type.replace(".v1alpha.", ".v1.")
    proto.ClearField("options")
    pool.Add(proto)


def enable_reflection(server: grpc.Server, service_names: Sequence[str]) -> None:
    """Reflection for `service_names` and for the reflection services themselves, under v1 and v1alpha."""
    _register_v1_descriptor()
    names = (*service_names, reflection.SERVICE_NAME, V1_SERVICE)
    servicer = reflection.ReflectionServicer(names)
    reflection_pb2_grpc_handler = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    for service in (reflection.SERVICE_NAME, V1_SERVICE):
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(service, {"ServerReflectionInfo": reflection_pb2_grpc_handler}),)
        )
