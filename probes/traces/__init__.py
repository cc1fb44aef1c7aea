"""Distributed traces (Jaeger, Tempo, Zipkin): where on the request path errors originate and time grows."""
