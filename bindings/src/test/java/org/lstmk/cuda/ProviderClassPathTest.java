package org.lstmk.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.lstmk.api.Lstm;
import org.junit.jupiter.api.Test;

/**
 * The providers must load on any JVM: in a child JVM whose class path lacks JCuda entirely, the {@code cuda} provider
 * still loads and says why it cannot run, and {@code cuda-host} still works.
 */
class ProviderClassPathTest {
    @Test
    void withoutJCudaTheCudaProviderExplainsAndTheHostBuildStillWorks() throws Exception {
        // Where our own classes and the kernels come from (Maven's class path or the JUnit console's), JCuda left out.
        String classPath = Stream.of(location(PrintBackends.class), location(Lstm.class), location(CudaProvider.class),
                        kernelsLocation()).distinct().collect(Collectors.joining(File.pathSeparator));
        assertTrue(!classPath.contains("jcuda"), classPath);
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

    private static String location(Class<?> c) throws URISyntaxException {
        return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    }

    /** The kernels-cuda jar or classes folder: whatever holds build-info.properties. */
    private static String kernelsLocation() throws URISyntaxException {
        URL url = ProviderClassPathTest.class.getClassLoader().getResource(KernelResources.BUILD_INFO);
        assertTrue(url != null, "kernels-cuda is on the test class path");
        String u = url.toString();
        if (u.startsWith("jar:")) return Path.of(new URI(u.substring(4, u.indexOf("!/")))).toString();
        String root = u.substring(0, u.length() - KernelResources.BUILD_INFO.length());
        return Path.of(new URI(root)).toString();
    }
}
