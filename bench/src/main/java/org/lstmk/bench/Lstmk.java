package org.lstmk.bench;

import java.util.Arrays;

/**
 * The {@code lstmk} command-line front: {@code info}, {@code verify}, {@code demo}, {@code infer}, {@code bench}.
 * Results go to standard output; diagnostics (the dispatcher's log line, JVM warnings) to standard error.
 */
public final class Lstmk {
    private Lstmk() {}

    public static void main(String[] args) throws Exception {
        String cmd = args.length == 0 ? "help" : args[0];
        String[] rest = Arrays.copyOfRange(args, Math.min(1, args.length), args.length);
        int rc;
        try {
            rc = switch (cmd) {
                case "info" -> InfoCommand.run(rest);
                case "verify" -> VerifyCommand.run(rest);
                case "demo" -> DemoCommand.run(rest);
                case "bench" -> BenchCommand.run(rest);
                case "infer" -> InferCommand.run(rest);
                case "help", "-h", "--help" -> usage(0);
                default -> {
                    System.err.println("lstmk: unknown command '" + cmd + "'");
                    yield usage(2);
                }
            };
        } catch (IllegalStateException | IllegalArgumentException e) {
            // A user's mistake (an unknown or unusable forced backend, a bad option value): one line, no stack trace.
            System.err.println("lstmk " + cmd + ": " + e.getMessage());
            rc = 2;
        }
        System.exit(rc);
    }

    private static int usage(int rc) {
        (rc == 0 ? System.out : System.err).println("""
                usage: lstmk <command> [options]
                  info                      Java, CPU vector species, every backend (usable or why not), the default choice
                  verify [--backend NAME]   every usable backend (or NAME) against the scalar reference; exit 1 on mismatch
                  demo [--task adding|sine|check] [--backend NAME] [--out DIR] [--seed N] [--steps N]
                       [--hidden N] [--batch N] [--lr X]
                                            adding (default): train an LSTM + dense head (Adam) on the adding problem,
                                            T=100, until test MSE < 0.01 (predicting the mean: 0.167); loss curve PNG
                                            sine: 2-layer LSTM, next-value prediction on sine waves; prediction PNG
                                            check: random LSTM (I=H=256, B=16, T=50) forward + backward, timed and
                                            checked against the reference
                  infer --model FILE --input x.npy --output y.npy [--lengths len.npy] [--batch-first]
                        [--final-state h.npy,c.npy] [--backend NAME] [--batch N] [--name PREFIX]
                                            run a trained model (PyTorch nn.LSTM state_dict, .safetensors) over
                                            NumPy float32 sequences, --batch at a time; writes y (and h_n, c_n)
                  bench [JMH options]       JMH benchmarks (e.g. bench Simd -p shape=512x16x100); -h for JMH's options
                  test                      (lstmk script only) build and run every test
                environment: LSTM_BACKEND=name or -Dlstm.backend=name forces a backend; -Dlstm.verify=true checks every call""");
        return rc;
    }
}
