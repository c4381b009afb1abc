package org.lstmk.cuda;

/** A kernel found by {@link Device#kernel(String)}, valid for that device only. */
public interface DeviceKernel {
    /** The kernel's name in the module, e.g. {@code lstmk_gemm_nt}. */
    String name();
}
