package org.lstmk.bench;

/** {@code lstmk bench [JMH options]}: runs JMH's own front on the benchmarks in this jar. */
final class BenchCommand {
    private BenchCommand() {}

    static int run(String[] args) throws Exception {
        org.openjdk.jmh.Main.main(args);
        return 0;
    }
}
