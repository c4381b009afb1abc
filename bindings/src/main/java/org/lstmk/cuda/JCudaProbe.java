package org.lstmk.cuda;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetCount;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;

import jcuda.CudaException;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import org.lstmk.spi.Availability;

/**
 * Whether a GPU can run our kernels, through JCuda: a driver that initialises, a device, and our fatbin loading on
 * it. Links JCuda: call only from {@link CudaProvider}, which catches the {@link LinkageError}s of a missing
 * library or driver.
 */
final class JCudaProbe {
    /** The oldest architecture with SASS in the fatbin; newer ones run it or JIT the compute_90 PTX. */
    static final int MIN_COMPUTE_CAPABILITY = 80;

    private JCudaProbe() {}

    static Availability probe(byte[] fatbin) {
        int rc;
        try {
            rc = cuInit(0);
        } catch (CudaException e) {
            return Availability.unusable("cuInit failed: " + e.getMessage());
        }
        if (rc != CUresult.CUDA_SUCCESS) {
            return Availability.unusable(rc == CUresult.CUDA_ERROR_NO_DEVICE ? "no CUDA device (cuInit: CUDA_ERROR_NO_DEVICE)"
                    : "the CUDA driver does not initialise: cuInit -> " + CUresult.stringFor(rc));
        }
        int[] count = new int[1];
        rc = cuDeviceGetCount(count);
        if (rc != CUresult.CUDA_SUCCESS || count[0] == 0) {
            return Availability.unusable("no CUDA device (cuDeviceGetCount -> " + CUresult.stringFor(rc) + ", "
                    + count[0] + " devices)");
        }
        CUdevice dev = new CUdevice();
        rc = cuDeviceGet(dev, 0);
        if (rc != CUresult.CUDA_SUCCESS) return Availability.unusable("cuDeviceGet(0) failed: " + CUresult.stringFor(rc));
        String description = JCudaDevice.describe(dev);
        int cc = JCudaDevice.computeCapability(dev);
        if (cc < MIN_COMPUTE_CAPABILITY) {
            return Availability.unusable(description + ": compute capability " + cc / 10 + "." + cc % 10
                    + " is older than the kernels' sm_80 (the fatbin holds sm_80 and sm_90 SASS and compute_90 PTX)");
        }
        CUcontext ctx = new CUcontext();
        rc = cuDevicePrimaryCtxRetain(ctx, dev);
        if (rc != CUresult.CUDA_SUCCESS) {
            return Availability.unusable(description + ": cuDevicePrimaryCtxRetain failed: " + CUresult.stringFor(rc));
        }
        try {
            cuCtxSetCurrent(ctx);
            CUmodule module = new CUmodule();
            rc = cuModuleLoadData(module, fatbin);
            if (rc != CUresult.CUDA_SUCCESS) {
                return Availability.unusable(description + ": the kernels do not load (cuModuleLoadData -> "
                        + CUresult.stringFor(rc) + ")");
            }
            cuModuleUnload(module);
        } finally {
            cuDevicePrimaryCtxRelease(dev);
        }
        return Availability.usable(description);
    }
}
