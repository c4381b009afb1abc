package org.lstmk.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

/**
 * The host build of the kernels (liblstmk_cuda_host.so from the kernels-cuda jar), bound through FFM. Loaded once
 * per process: extracted to a temporary file, opened, and the file deleted again (the mapping stays).
 * The C side is kernels-cuda/src/main/cuda/host/cuda_host.cpp.
 */
final class HostLibrary {
    private static final int MESSAGE_BYTES = 1024;
    private static volatile Object loaded;   // a HostLibrary, or the String reason it could not be loaded

    private final MethodHandle kernelCount, kernelSignature, checkLaunch, launch, launchCooperative, alloc, free,
            liveAllocations, setSchedule, setBlockLanes, blockLanes, maxCooperativeBlocks;

    private HostLibrary(SymbolLookup lib) {
        Linker linker = Linker.nativeLinker();
        kernelCount = bind(linker, lib, "lstmk_host_kernel_count", FunctionDescriptor.of(JAVA_INT));
        kernelSignature = bind(linker, lib, "lstmk_host_kernel_signature",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
        FunctionDescriptor dims = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT);
        checkLaunch = bind(linker, lib, "lstmk_host_check_launch", dims.appendArgumentLayouts(ADDRESS, JAVA_INT));
        launch = bind(linker, lib, "lstmk_host_launch", dims.appendArgumentLayouts(ADDRESS, ADDRESS, JAVA_INT));
        launchCooperative = bind(linker, lib, "lstmk_host_launch_cooperative",
                dims.appendArgumentLayouts(ADDRESS, ADDRESS, JAVA_INT));
        maxCooperativeBlocks = bind(linker, lib, "lstmk_host_max_cooperative_blocks", FunctionDescriptor.of(JAVA_INT));
        alloc = bind(linker, lib, "lstmk_host_alloc", FunctionDescriptor.of(ADDRESS, JAVA_LONG));
        free = bind(linker, lib, "lstmk_host_free", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
        liveAllocations = bind(linker, lib, "lstmk_host_live_allocations", FunctionDescriptor.of(JAVA_LONG));
        setSchedule = bind(linker, lib, "lstmk_host_set_schedule", FunctionDescriptor.ofVoid(JAVA_INT));
        setBlockLanes = bind(linker, lib, "lstmk_host_set_block_lanes", FunctionDescriptor.ofVoid(JAVA_INT));
        blockLanes = bind(linker, lib, "lstmk_host_block_lanes", FunctionDescriptor.of(JAVA_INT));
    }

    /** The library, loaded on first use. */
    static HostLibrary get() {
        Object l = load();
        if (l instanceof HostLibrary lib) return lib;
        throw new IllegalStateException((String) l);
    }

    /** Null if the library loads, else why not. */
    static String unavailableReason() {
        Object l = load();
        return l instanceof String reason ? reason : null;
    }

    private static Object load() {
        Object l = loaded;
        if (l == null) {
            synchronized (HostLibrary.class) {
                l = loaded;
                if (l == null) loaded = l = tryLoad();
            }
        }
        return l;
    }

    @SuppressWarnings("restricted")   // loading our own library is the point; the JVM runs with native access enabled
    private static Object tryLoad() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "");
        if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
            return "the host build of the kernels is for linux-x86_64; this JVM runs on " + os + "-" + arch;
        }
        if (!KernelResources.exists(KernelResources.HOST_LIBRARY)) return KernelResources.noHostLibraryReason();
        try {
            Path file = Files.createTempFile("liblstmk_cuda_host", ".so");
            try (InputStream in = KernelResources.open(KernelResources.HOST_LIBRARY)) {
                Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
                return new HostLibrary(SymbolLookup.libraryLookup(file, Arena.global()));
            } finally {
                Files.deleteIfExists(file);
            }
        } catch (IOException | RuntimeException | LinkageError e) {
            return "the host build of the kernels failed to load: " + e;
        }
    }

    @SuppressWarnings("restricted")
    private static MethodHandle bind(Linker linker, SymbolLookup lib, String name, FunctionDescriptor fd) {
        return linker.downcallHandle(lib.find(name).orElseThrow(
                () -> new IllegalStateException("liblstmk_cuda_host.so lacks " + name)), fd);
    }

    /** Number of kernels in the registry. */
    int kernelCount() {
        try {
            return (int) kernelCount.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The kernel's argument signature, or null if there is no such kernel. */
    String kernelSignature(String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(MESSAGE_BYTES);
            int found = (int) kernelSignature.invokeExact(a.allocateFrom(name), out, MESSAGE_BYTES);
            return found == 1 ? out.getString(0) : null;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Null if a launch with this configuration would be accepted, else the reason. */
    String checkLaunch(String name, String signature, Dim3 grid, Dim3 block, int sharedBytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment msg = a.allocate(MESSAGE_BYTES);
            int rc = (int) checkLaunch.invokeExact(a.allocateFrom(name), a.allocateFrom(signature), grid.x(), grid.y(),
                    grid.z(), block.x(), block.y(), block.z(), sharedBytes, msg, MESSAGE_BYTES);
            return rc == 0 ? null : msg.getString(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Runs the kernel over its grid on this thread; null on success, else what went wrong. */
    String launch(String name, String signature, Dim3 grid, Dim3 block, int sharedBytes, MemorySegment params) {
        return launch(launch, name, signature, grid, block, sharedBytes, params);
    }

    /**
     * Runs the kernel cooperatively (every block at once, grid syncs are real barriers); null on success, else what
     * went wrong (a grid over {@link #maxCooperativeBlocks()} is refused).
     */
    String launchCooperative(String name, String signature, Dim3 grid, Dim3 block, int sharedBytes,
                             MemorySegment params) {
        return launch(launchCooperative, name, signature, grid, block, sharedBytes, params);
    }

    private static String launch(MethodHandle how, String name, String signature, Dim3 grid, Dim3 block,
                                 int sharedBytes, MemorySegment params) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment msg = a.allocate(MESSAGE_BYTES);
            int rc = (int) how.invokeExact(a.allocateFrom(name), a.allocateFrom(signature), grid.x(), grid.y(),
                    grid.z(), block.x(), block.y(), block.z(), sharedBytes, params, msg, MESSAGE_BYTES);
            return rc == 0 ? null : msg.getString(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Blocks a cooperative launch may have (the emulated device's co-residency limit). */
    int maxCooperativeBlocks() {
        try {
            return (int) maxCooperativeBlocks.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Address of fresh "device" memory (NaN-filled, guarded), or 0 if out of memory. */
    long alloc(long bytes) {
        try {
            return ((MemorySegment) alloc.invokeExact(bytes)).address();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Frees memory from {@link #alloc}; null on success, else what was wrong (a damaged guard zone, a double free). */
    String free(long address) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment msg = a.allocate(MESSAGE_BYTES);
            int rc = (int) free.invokeExact(MemorySegment.ofAddress(address), msg, MESSAGE_BYTES);
            return rc == 0 ? null : msg.getString(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Allocations of the whole process not yet freed. */
    long liveAllocations() {
        try {
            return (long) liveAllocations.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    void setSchedule(int kind) {
        try {
            setSchedule.invokeExact(kind);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    void setBlockLanes(int lanes) {
        try {
            setBlockLanes.invokeExact(lanes);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    int blockLanes() {
        try {
            return (int) blockLanes.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }
}
