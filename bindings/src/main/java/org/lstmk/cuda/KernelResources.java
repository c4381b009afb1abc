package org.lstmk.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/**
 * What the kernels-cuda jar carries (see kernels-cuda/build-kernels.sh): the fatbin, the host build of the
 * kernels, the launch geometry, and build-info.properties saying what was built or why not.
 */
final class KernelResources {
    static final String DIR = "org/lstmk/cuda/";
    static final String FATBIN = DIR + "lstm_kernels.fatbin";
    static final String HOST_LIBRARY = DIR + "linux-x86_64/liblstmk_cuda_host.so";
    static final String GEOMETRY = DIR + "kernel-geometry.properties";
    static final String BUILD_INFO = DIR + "build-info.properties";

    private KernelResources() {}

    static InputStream open(String resource) {
        return KernelResources.class.getClassLoader().getResourceAsStream(resource);
    }

    static boolean exists(String resource) {
        return KernelResources.class.getClassLoader().getResource(resource) != null;
    }

    /** The whole resource, or null if it is not on the class path. */
    static byte[] bytes(String resource) {
        try (InputStream in = open(resource)) {
            return in == null ? null : in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + resource, e);
        }
    }

    /** A properties resource; empty if it is not on the class path. */
    static Properties properties(String resource) {
        Properties p = new Properties();
        try (InputStream in = open(resource)) {
            if (in != null) p.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + resource, e);
        }
        return p;
    }

    /** Why the build has no fatbin, from build-info.properties. */
    static String noFatbinReason() {
        Properties info = properties(BUILD_INFO);
        if (info.isEmpty()) return "no kernels in this build (the kernels-cuda jar is not on the class path)";
        String why = info.getProperty("fatbin.reason", "");
        return "no kernels in this build" + (why.isBlank() ? "" : ": " + why);
    }

    /** Why the build has no host library, from build-info.properties. */
    static String noHostLibraryReason() {
        Properties info = properties(BUILD_INFO);
        if (info.isEmpty()) return "no host build of the kernels (the kernels-cuda jar is not on the class path)";
        String why = info.getProperty("host.reason", "");
        return "no host build of the kernels in this jar" + (why.isBlank() ? "" : ": " + why);
    }
}
