package org.lstmk.driver;

/** The reference's kernels behind the driver's segment path ({@link ReferenceKernelsTestProvider}). */
public final class SegmentedReferenceTestProvider extends ReferenceKernelsTestProvider {
    public static final String NAME = "test-segmented-reference";

    public SegmentedReferenceTestProvider() {
        super(NAME, false);
    }
}
