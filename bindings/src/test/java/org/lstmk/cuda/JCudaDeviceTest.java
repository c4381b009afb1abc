package org.lstmk.cuda;

/**
 * The device contract on a real GPU through JCuda. Skips, with the reason, where no usable GPU is present (as in
 * CI); on a GPU machine these run and assert (bench/gpu/run-device.sh runs them).
 */
class JCudaDeviceTest extends DeviceContractTest {
    @Override
    Device open() {
        GpuRequirement.require();
        return JCudaDevice.open(0, KernelResources.bytes(KernelResources.FATBIN));
    }
}
