/**
 * The service-provider interface that every backend implements: the scalar reference, the SIMD backend, the CUDA
 * backend and its host test vehicle.
 *
 * <p>A {@link org.lstmk.spi.BackendProvider} is cheap to load on any JVM (it must not touch optional classes such
 * as the Vector API or JCuda) and is found with {@link java.util.ServiceLoader}; it reports whether its backend
 * can run here and opens an {@link org.lstmk.spi.LstmBackend}. Backends receive calls that the public API
 * ({@link org.lstmk.api.Lstm}) has already validated: sizes, liveness, writability and aliasing are checked once
 * there, for all backends alike, so kernels contain no argument checks.
 */
package org.lstmk.spi;
