package org.lstmk.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Properties;
import org.lstmk.api.BackendInfo;
import org.lstmk.api.Lstm;
import org.lstmk.api.LstmConfig;
import org.lstmk.dispatch.Dispatcher;
import org.lstmk.spi.Availability;
import org.junit.jupiter.api.Test;

/** How the two CUDA providers present themselves to the dispatcher and to {@code lstmk info}. */
class CudaProvidersTest {

    @Test
    void bothProvidersAreRegistered() {
        List<String> names = Lstm.backends().stream().map(BackendInfo::name).toList();
        assertTrue(names.contains(CudaProvider.NAME), names.toString());
        assertTrue(names.contains(CudaHostProvider.NAME), names.toString());
    }

    @Test
    void theHostBuildIsUsableHereAndSaysItIsATestVehicle() {
        CudaHostProvider p = new CudaHostProvider();
        Availability a = p.availability();
        assertTrue(a.usable(), "the host build must load in CI: " + a.detail());
        assertFalse(p.autoSelectable());
        assertTrue(p.description().contains("test vehicle"), p.description());
        assertTrue(p.priority() < 0, "lowest preference even when forced lists are sorted");
    }

    @Test
    void bothListThePathsTheyChooseAmongAndHowToTurnThemOff() {
        for (List<String> paths : List.of(new CudaProvider().paths(), new CudaHostProvider().paths())) {
            String all = String.join("\n", paths);
            assertEquals(6, paths.size(), all);
            for (String p : List.of("graphs:", "persistent:", "tensor cores:", "-Dlstmk.cuda.graphs=false",
                    "-Dlstmk.cuda.persistent=false", "TF32 or BF16", "-Dlstmk.cuda.smallBatchTile=false",
                    "overlapped copies:", "-Dlstmk.cuda.overlap=false", "Lstm.allocateHost")) {
                assertTrue(all.contains(p), p + " in\n" + all);
            }
        }
    }

    @Test
    void theDispatcherNeverChoosesTheHostBuildByItself() {
        assertNotEquals(CudaHostProvider.NAME, Dispatcher.defaultChoice());
        try (Lstm lstm = Lstm.builder(LstmConfig.of(2, 2)).verify(false).build()) {
            assertNotEquals(CudaHostProvider.NAME, lstm.backendName(), lstm.selection().describe());
        }
        try (Lstm forced = Lstm.builder(LstmConfig.of(2, 2)).backend(CudaHostProvider.NAME).verify(false).build()) {
            assertEquals(CudaHostProvider.NAME, forced.backendName(), "but it runs when forced");
        }
    }

    @Test
    void theCudaBackendSaysWhyItIsOrIsNotUsable() {
        CudaProvider p = new CudaProvider();
        Availability a = p.availability();
        assertFalse(a.detail().isBlank());
        assertTrue(p.autoSelectable());
        if (a.usable()) {
            assertTrue(a.detail().contains("sm_"), a.detail());
            assertEquals(CudaProvider.NAME, Dispatcher.defaultChoice(), "a usable GPU is the default");
        } else {
            assertTrue(a.detail().matches("(?s).*(no CUDA driver|no CUDA device|no JCuda|JCuda is not|no kernels in this build"
                    + "|does not initialise|do not load|older than).*"), a.detail());
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> Lstm.builder(LstmConfig.of(2, 2)).backend(CudaProvider.NAME).build());
            assertTrue(e.getMessage().contains(a.detail()), e.getMessage());
        }
    }

    @Test
    void theFatbinIsInTheJarWhenNvccWasThere() {
        Properties info = KernelResources.properties(KernelResources.BUILD_INFO);
        assertFalse(info.isEmpty(), "build-info.properties is packaged");
        byte[] fatbin = KernelResources.bytes(KernelResources.FATBIN);
        if ("present".equals(info.getProperty("fatbin"))) {
            assertNotNull(fatbin, "build-info says a fatbin was built");
            // fatbin files start with the magic 0xBA55ED50 (little-endian).
            assertEquals(0x50, fatbin[0] & 0xff);
            assertEquals(0xED, fatbin[1] & 0xff);
            assertEquals(0x55, fatbin[2] & 0xff);
            assertEquals(0xBA, fatbin[3] & 0xff);
        } else {
            assertEquals(null, fatbin);
            assertTrue(new CudaProvider().availability().detail().startsWith("no kernels in this build"));
        }
    }

    @Test
    void aMissingDriverIsReportedAsSuch() {
        UnsatisfiedLinkError noDriver = new UnsatisfiedLinkError("Error while loading native library "
                + "\"JCudaDriver-12.6.0-linux-x86_64\"\nStack trace from the attempt to load the library as a resource:\n"
                + "/tmp/libJCudaDriver-12.6.0-linux-x86_64.so: libcuda.so.1: cannot open shared object file");
        assertTrue(CudaProvider.linkFailure(noDriver).startsWith("no CUDA driver"));
        UnsatisfiedLinkError noNatives = new UnsatisfiedLinkError("Error while loading native library "
                + "\"JCudaDriver-12.6.0-linux-x86_64\": no resource found");
        assertTrue(CudaProvider.linkFailure(noNatives).startsWith("no JCuda natives"));
    }

    @Test
    void launchGeometryIsReadFromTheBuild() {
        KernelGeometry g = KernelGeometry.load();
        assertEquals(g.gemm().threads(), (g.gemm().m() / 4) * (g.gemm().n() / 4));
        assertEquals(0, g.forward().n() % 4, "forward tiles hold whole units (4 gates each)");
        assertTrue(g.backward().threads() > 0 && g.colsumThreads() > 0 && g.packThreads() > 0);
    }
}
