//! The result of threading: a forest of messages and dummy parents, and its
//! `thread-list` rendering (RFC 5256 §4, `thread-data`).
//!
//! Kept flat (an arena of nodes linked by index) rather than as a recursive type, and
//! walked with explicit stacks, so a mailbox holding one reply chain of any length
//! can neither overflow the stack while building, rendering or dropping the tree.

/// One node: a message (`id` is its sequence number or UID) or a dummy parent
/// standing for a message the mailbox does not hold (`id` is `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub id: Option<u32>,
    /// Indices into [`Threads::nodes`], in the order the response lists them.
    pub children: Vec<usize>,
}

/// Threads in response order: [`Threads::roots`] are the first message (or dummy) of
/// each thread.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Threads {
    pub nodes: Vec<Node>,
    pub roots: Vec<usize>,
}

impl Threads {
    /// The `thread-list`s of a THREAD response, without the leading `THREAD `:
    /// `(2)(3 6 (4 23)(44 7 96))`. Empty when there are no threads.
    ///
    /// RFC 5256 §4: `thread-list = "(" (thread-members / thread-nested) ")"`,
    /// `thread-members = nz-number *(SP nz-number) [SP thread-nested]`,
    /// `thread-nested = 2*thread-list`. A message with one child continues the same
    /// list (`3 6`); with several, each child opens its own (`6 (4 23)(44 7 96)`); a
    /// dummy contributes no number, only its children's lists (`((3)(5))`).
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Work items: open a thread-list at a node, continue one at a node, or write
        // a closing parenthesis.
        enum Step {
            Open(usize),
            Members(usize),
            Close,
        }
        let mut stack: Vec<Step> = self.roots.iter().rev().map(|&r| Step::Open(r)).collect();
        while let Some(step) = stack.pop() {
            match step {
                Step::Close => out.push(')'),
                Step::Open(n) => {
                    out.push('(');
                    stack.push(Step::Close);
                    stack.push(Step::Members(n));
                }
                Step::Members(n) => {
                    let Some(node) = self.nodes.get(n) else {
                        continue;
                    };
                    match (node.id, node.children.as_slice()) {
                        // A dummy with one child is just that child (never produced,
                        // but still valid syntax this way).
                        (None, [only]) => stack.push(Step::Members(*only)),
                        (None, children) => {
                            stack.extend(children.iter().rev().map(|&c| Step::Open(c)));
                        }
                        (Some(id), children) => {
                            if !out.ends_with('(') {
                                out.push(' ');
                            }
                            out.push_str(&id.to_string());
                            match children {
                                [] => {}
                                [only] => stack.push(Step::Members(*only)),
                                several => {
                                    out.push(' ');
                                    stack.extend(several.iter().rev().map(|&c| Step::Open(c)));
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// The message ids in response order (depth first), dummies left out.
    pub fn ids(&self) -> Vec<u32> {
        let mut out = Vec::new();
        let mut stack: Vec<usize> = self.roots.iter().rev().copied().collect();
        while let Some(n) = stack.pop() {
            let Some(node) = self.nodes.get(n) else {
                continue;
            };
            out.extend(node.id);
            stack.extend(node.children.iter().rev());
        }
        out
    }

    /// Appends a node and returns its index.
    pub(super) fn push(&mut self, id: Option<u32>, children: Vec<usize>) -> usize {
        self.nodes.push(Node { id, children });
        self.nodes.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a forest from a nested description: `M(id, children)` / `D(children)`.
    enum T {
        M(u32, Vec<T>),
        D(Vec<T>),
    }

    fn build(threads: &mut Threads, t: &T) -> usize {
        let (id, kids) = match t {
            T::M(id, kids) => (Some(*id), kids),
            T::D(kids) => (None, kids),
        };
        let children = kids.iter().map(|k| build(threads, k)).collect();
        threads.push(id, children)
    }

    fn forest(roots: &[T]) -> Threads {
        let mut t = Threads::default();
        t.roots = roots.iter().map(|r| build(&mut t, r)).collect();
        t
    }

    use T::{D, M};

    #[test]
    fn renders_the_rfc_5256_examples() {
        // RFC 5256 §4: "(2)(3 6 (4 23)(44 7 96))".
        let t = forest(&[
            M(2, vec![]),
            M(
                3,
                vec![M(
                    6,
                    vec![
                        M(4, vec![M(23, vec![])]),
                        M(44, vec![M(7, vec![M(96, vec![])])]),
                    ],
                )],
            ),
        ]);
        assert_eq!(t.render(), "(2)(3 6 (4 23)(44 7 96))");
        assert_eq!(t.ids(), vec![2, 3, 6, 4, 23, 44, 7, 96]);
        // RFC 5256 §4: a dummy parent of 3 and 5.
        let t = forest(&[D(vec![M(3, vec![]), M(5, vec![])])]);
        assert_eq!(t.render(), "((3)(5))");
        assert_eq!(t.ids(), vec![3, 5]);
    }

    #[test]
    fn renders_edge_shapes() {
        assert_eq!(Threads::default().render(), "");
        let t = forest(&[
            D(vec![M(1, vec![M(2, vec![])]), M(3, vec![])]),
            M(4, vec![]),
        ]);
        assert_eq!(t.render(), "((1 2)(3))(4)");
        let t = forest(&[D(vec![M(7, vec![])])]);
        assert_eq!(t.render(), "(7)");
        let t = forest(&[M(
            1,
            vec![D(vec![M(2, vec![]), M(3, vec![])]), M(4, vec![])],
        )]);
        assert_eq!(t.render(), "(1 ((2)(3))(4))");
    }

    #[test]
    fn a_very_long_chain_renders_without_recursion() {
        let mut t = Threads::default();
        let mut below = Vec::new();
        for id in (1..=200_000u32).rev() {
            below = vec![t.push(Some(id), below)];
        }
        t.roots = below;
        let text = t.render();
        assert!(text.starts_with("(1 2 3 "));
        assert!(text.ends_with(" 200000)"));
        assert_eq!(t.ids().len(), 200_000);
    }
}
