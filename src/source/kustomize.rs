//! `kustomize-images`: `images[]` of a kustomization, named by `name`, versioned by `newTag`
//! (or by `digest` when there is no `newTag`).

use super::yaml_list::component;
use super::{Inventory, Locator, Rule};
use crate::edit::EditError;
use crate::edit::yaml::{self, Node};

pub fn read(_loc: &Locator, file: &str, text: &str) -> Result<Inventory, EditError> {
    let (docs, lines) = yaml::parse(file, text)?;
    let mut inv = Inventory {
        file: file.to_string(),
        components: Vec::new(),
        notes: Vec::new(),
    };
    let Some(images) = docs.iter().find_map(|d| d.get("images")) else {
        return Ok(inv);
    };
    for (i, image) in images.items().iter().enumerate() {
        let Some(name) = image.get("name").and_then(Node::as_str) else {
            inv.notes
                .push(format!("images[{i}] has no `name`, skipped"));
            continue;
        };
        let field = ["newTag", "digest"]
            .into_iter()
            .find_map(|f| Some((f, image.get(f)?)));
        let Some((field, node)) = field else {
            inv.notes.push(format!(
                "image `{name}` has no `newTag` or `digest`, skipped"
            ));
            continue;
        };
        if field == "newTag" && image.get("digest").is_some() {
            inv.notes.push(format!(
                "image `{name}` also pins a `digest`, which is not promoted"
            ));
        }
        let address = format!("images[{i}].{field}");
        let mut c = component(file, name, address, node, &lines)?;
        c.rule = match field {
            "digest" => Rule::Digest,
            _ => Rule::ImageTag,
        };
        inv.components.push(c);
    }
    Ok(inv)
}
