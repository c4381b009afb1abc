package org.lstmk.driver;

/** The reference's kernels behind the driver's packed path ({@link ReferenceKernelsTestProvider}). */
public final class PackedReferenceTestProvider extends ReferenceKernelsTestProvider {
    public static final String NAME = "test-packed-reference";

    public PackedReferenceTestProvider() {
        super(NAME, true);
    }
}
