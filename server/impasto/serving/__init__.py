"""The daemon's face: the gRPC server, the service, the job queue, the image store and logging."""
