package org.lstmk.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The providers must load on any JVM: in a child JVM whose class path lacks JCuda entirely, the {@code cuda} provider
 * still loads and says why it cannot run, and {@code cuda-host} still works.
 */
class ProviderClassPathTest {
    @Test
    void withoutJCudaTheCudaProviderExplainsAndTheHostBuildStillWorks() throws Exception {
        String classPath = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .filter(entry -> !Path.of(entry).getFileName().toString().startsWith("jcuda"))
                .collect(Collectors.joining(File.pathSeparator));
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", classPath, PrintBackends.class.getName())
                .redirectErrorStream(true).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child JVM timed out");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), out);
        List<String> lines = out.lines().toList();
        assertTrue(lines.contains("cuda|false|JCuda is not on the class path (org.jcuda:jcuda 12.6.0)"), out);
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("cuda-host|true|")), out);
    }
}
