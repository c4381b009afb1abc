package org.lstmk.cuda;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.lstmk.spi.Availability;

/**
 * The device contract on a real GPU through JCuda. Skips, with the reason, where no usable GPU is present (as in
 * CI); on a GPU machine these run and assert (bench/gpu/run-device.sh runs them).
 */
class JCudaDeviceTest extends DeviceContractTest {
    @Override
    Device open() {
        Availability a = new CudaProvider().availability();
        assumeTrue(a.usable(), () -> "no usable GPU: " + a.detail());
        return JCudaDevice.open(0, KernelResources.bytes(KernelResources.FATBIN));
    }
}
