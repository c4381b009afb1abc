package org.lstmk.cuda;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.lstmk.spi.Availability;

/**
 * Gate for tests that need a real GPU: they skip, with the reason, where none is usable (CI), but fail instead under
 * {@code -Dlstmk.requireGpu=true}, which bench/gpu/run-device.sh sets on the GPU machine, so a GPU run can never pass
 * by skipping.
 */
final class GpuRequirement {
    static final String PROPERTY = "lstmk.requireGpu";

    private GpuRequirement() {}

    static void require() {
        Availability a = new CudaProvider().availability();
        if (Boolean.getBoolean(PROPERTY)) {
            assertTrue(a.usable(), () -> "-D" + PROPERTY + "=true but the cuda backend is not usable: " + a.detail());
        } else {
            assumeTrue(a.usable(), () -> "no usable GPU: " + a.detail());
        }
    }
}
