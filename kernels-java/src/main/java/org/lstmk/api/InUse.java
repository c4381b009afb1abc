package org.lstmk.api;

/**
 * Counts the calls that use a resource (packed weights, a workspace) so that closing it waits for them instead of
 * freeing memory a kernel is reading: closing while a call runs on another thread is then harmless, neither a crash
 * nor garbage results. After {@link #close()} every new use fails with a message naming the argument.
 */
final class InUse {
    private final String closedMessage;
    private int calls;
    private boolean closed;

    /** @param closedMessage what a use after closing says after the argument's name, e.g. "packed weights have been closed" */
    InUse(String closedMessage) {
        this.closedMessage = closedMessage;
    }

    /** A call starts using the resource; every {@code enter} is paired with one {@link #exit()}. */
    synchronized void enter(String argument) {
        if (closed) throw new IllegalStateException(argument + ": " + closedMessage);
        calls++;
    }

    /** A call has stopped using the resource. */
    synchronized void exit() {
        if (--calls == 0) notifyAll();
    }

    /**
     * Refuses new uses and waits until the calls using the resource have ended (an interrupt does not cut the wait
     * short, since freeing under a running call is what this prevents; the interrupt status is kept).
     *
     * @return true if this call closed it, false if it was closed already
     */
    synchronized boolean close() {
        if (closed) return false;
        closed = true;
        boolean interrupted = false;
        while (calls > 0) {
            try {
                wait();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
        return true;
    }

    synchronized boolean isClosed() { return closed; }
}
