package org.lstmk.bench;

/** Describes the Vector API's preferred float species without linking it when the module is absent. */
final class VectorInfo {
    private VectorInfo() {}

    static String describe() {
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            return "absent (run with --add-modules jdk.incubator.vector)";
        }
        return Species.describe();
    }

    /** Loaded only once the module is known to be present. */
    private static final class Species {
        static String describe() {
            var s = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED;
            return "preferred float species " + s.vectorBitSize() + " bits (" + s.length() + " lanes)";
        }
    }
}
